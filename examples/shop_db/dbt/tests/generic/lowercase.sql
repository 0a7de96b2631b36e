{#- Fails for every row whose `column_name` has a capital letter. -#}
{% test lowercase(model, column_name) %}
    select {{ column_name }}
    from {{ model }}
    where {{ column_name }} <> lower({{ column_name }})
{% endtest %}
