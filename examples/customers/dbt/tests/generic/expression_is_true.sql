{# Fails on every row of `model` where `expression` is not true (a NULL counts as not true).
   On a column the expression still names its columns itself. #}
{% test expression_is_true(model, expression, column_name=None) %}
select *
from {{ model }}
where not coalesce({{ expression }}, false)
{% endtest %}
