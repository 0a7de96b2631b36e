{#
  Cleaning helpers. Where DuckDB and PostgreSQL spell a function differently, the macro
  dispatches (adapter.dispatch), so the models run unchanged on both. A value that does not
  parse gives NULL, never an error: one bad value must not stop the build.
#}

{# Trimmed text; blank becomes NULL. #}
{% macro clean_text(expression) -%}
  nullif(trim({{ expression }}), '')
{%- endmacro %}

{# True when the whole of `expression` matches the regular expression `pattern`. #}
{% macro full_match(expression, pattern) %}
  {{ return(adapter.dispatch('full_match')(expression, pattern)) }}
{% endmacro %}

{% macro default__full_match(expression, pattern) -%}
  coalesce(({{ expression }}) ~ '^({{ pattern }})$', false)
{%- endmacro %}

{% macro duckdb__full_match(expression, pattern) -%}
  coalesce(regexp_full_match({{ expression }}, '{{ pattern }}'), false)
{%- endmacro %}

{# The date year-month-day, or NULL when there is no such day (2023-02-30, month 13).
   Nested CASEs, because both databases evaluate a CASE branch only when it is taken. #}
{% macro valid_date(year, month, day) -%}
  case when {{ year }} between 1 and 9999 and {{ month }} between 1 and 12 then
    case when {{ day }} between 1 and extract(day from make_date({{ year }}, {{ month }}, 1) + interval '1 month' - interval '1 day')
      then make_date({{ year }}, {{ month }}, {{ day }})
    end
  end
{%- endmacro %}

{# A date written '2023-05-14' or, UK style, '14/05/2023'; NULL when it is neither. #}
{% macro parse_date(expression) -%}
  case
    when {{ full_match(expression, '[0-9]{4}-[0-9]{2}-[0-9]{2}') }} then {{ valid_date(
      'cast(substring(' ~ expression ~ ', 1, 4) as integer)',
      'cast(substring(' ~ expression ~ ', 6, 2) as integer)',
      'cast(substring(' ~ expression ~ ', 9, 2) as integer)') }}
    when {{ full_match(expression, '[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}') }} then {{ valid_date(
      "cast(split_part(" ~ expression ~ ", '/', 3) as integer)",
      "cast(split_part(" ~ expression ~ ", '/', 2) as integer)",
      "cast(split_part(" ~ expression ~ ", '/', 1) as integer)") }}
  end
{%- endmacro %}

{# An ISO timestamp, '2024-02-03T10:15:00' or '2024-02-03 10:15[:00]', as a timestamp without
   zone; NULL when it is not one. #}
{% macro parse_timestamp(expression) -%}
  {%- set day = parse_date('substring(' ~ expression ~ ', 1, 10)') -%}
  {%- set hour = 'cast(substring(' ~ expression ~ ', 12, 2) as integer)' -%}
  {%- set minute = 'cast(substring(' ~ expression ~ ', 15, 2) as integer)' -%}
  {%- set second = 'cast(coalesce(nullif(substring(' ~ expression ~ ', 18, 2), \'\'), \'0\') as integer)' -%}
  case
    when {{ full_match(expression, '[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(:[0-9]{2})?') }} then
      case
        when ({{ day }}) is not null and {{ hour }} < 24 and {{ minute }} < 60 and {{ second }} < 60
          then cast(replace({{ expression }}, 'T', ' ') as timestamp)
      end
  end
{%- endmacro %}

{# A money amount with at most two decimals ('19.99', '-25', ' 7.50 '); NULL otherwise. #}
{% macro parse_amount(expression) -%}
  case
    when {{ full_match(expression, '-?[0-9]{1,10}([.][0-9]{1,2})?') }} then cast({{ expression }} as decimal(12, 2))
  end
{%- endmacro %}
