{#- Date and time helpers that differ between warehouses. Each dispatches on the adapter
    (postgres__..., duckdb__...), with a default__ for any other warehouse. -#}

{#- The calendar date of a timestamp. -#}
{% macro date_of(ts) %}{{ return(adapter.dispatch('date_of', 'totesys')(ts)) }}{% endmacro %}
{% macro default__date_of(ts) %}cast({{ ts }} as date){% endmacro %}

{#- The time of day of a timestamp, to the microsecond. -#}
{% macro time_of(ts) %}{{ return(adapter.dispatch('time_of', 'totesys')(ts)) }}{% endmacro %}
{% macro default__time_of(ts) %}cast({{ ts }} as time){% endmacro %}
{% macro postgres__time_of(ts) %}cast({{ ts }} as time(6)){% endmacro %}

{#- A date from text such as '2022-11-07'; text that is not a date gives null instead of failing the run. -#}
{% macro text_to_date(text) %}{{ return(adapter.dispatch('text_to_date', 'totesys')(text)) }}{% endmacro %}
{% macro default__text_to_date(text) %}cast({{ text }} as date){% endmacro %}
{% macro duckdb__text_to_date(text) %}try_cast({{ text }} as date){% endmacro %}
{% macro postgres__text_to_date(text) -%}
    case when {{ text }} ~ '^\d{4}-\d{2}-\d{2}$' then cast({{ text }} as date) end
{%- endmacro %}

{#- English day name (Monday) and month name (January) of a date. -#}
{% macro day_name(d) %}{{ return(adapter.dispatch('day_name', 'totesys')(d)) }}{% endmacro %}
{% macro default__day_name(d) %}to_char({{ d }}, 'FMDay'){% endmacro %}
{% macro duckdb__day_name(d) %}dayname({{ d }}){% endmacro %}

{% macro month_name(d) %}{{ return(adapter.dispatch('month_name', 'totesys')(d)) }}{% endmacro %}
{% macro default__month_name(d) %}to_char({{ d }}, 'FMMonth'){% endmacro %}
{% macro duckdb__month_name(d) %}monthname({{ d }}){% endmacro %}

{#- ISO day of week: Monday = 1 .. Sunday = 7. -#}
{% macro iso_day_of_week(d) %}{{ return(adapter.dispatch('iso_day_of_week', 'totesys')(d)) }}{% endmacro %}
{% macro default__iso_day_of_week(d) %}cast(extract(isodow from {{ d }}) as integer){% endmacro %}

{#- One row per day from `start_date` to `end_date` (both dates, inclusive), in column `date_day`. -#}
{% macro date_series(start_date, end_date) %}
    {{ return(adapter.dispatch('date_series', 'totesys')(start_date, end_date)) }}
{% endmacro %}
{% macro default__date_series(start_date, end_date) %}
    select cast(d as date) as date_day
    from generate_series(cast({{ start_date }} as timestamp), cast({{ end_date }} as timestamp), interval '1 day') as s(d)
{% endmacro %}
{% macro duckdb__date_series(start_date, end_date) %}
    select cast(unnest(generate_series(cast({{ start_date }} as date), cast({{ end_date }} as date), interval 1 day)) as date)
        as date_day
{% endmacro %}
