{# Type-2 history: every key (`column_name`) has exactly one current row, the one whose
   `valid_to` is NULL. Fails on each key with none or with more than one. #}
{% test one_current_row(model, column_name, valid_to) %}
select {{ column_name }}, sum(case when {{ valid_to }} is null then 1 else 0 end) as current_rows
from {{ model }}
group by {{ column_name }}
having sum(case when {{ valid_to }} is null then 1 else 0 end) <> 1
{% endtest %}
