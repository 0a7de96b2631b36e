{#- SQL that means the same on DuckDB and PostgreSQL. -#}

{#- Money to cents: rounded half away from zero from the exact decimal, never through a float. -#}
{% macro money(column) -%}
    cast(round(cast({{ column }} as decimal(38, 18)), 2) as decimal(18, 2))
{%- endmacro %}

{#- A point in time as a UTC timestamp without time zone, whatever the session's time zone. -#}
{% macro utc(column) -%}
    (cast({{ column }} as timestamp with time zone) at time zone 'UTC')
{%- endmacro %}
