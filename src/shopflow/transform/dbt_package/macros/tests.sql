{#- Generic tests for any model or source, on DuckDB and PostgreSQL. -#}

{#- Fails on every row of `model` where `expression` is not true (a NULL counts as not true).
    On a column the expression still names its columns itself. -#}
{% test expression_is_true(model, expression, column_name=None) %}
select *
from {{ model }}
where not coalesce({{ expression }}, false)
{% endtest %}

{#- Fails for every combination of `columns` that occurs more than once in `model`. -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as occurrences
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
