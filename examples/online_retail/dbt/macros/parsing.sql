{#
  Portable parsing helpers: one spelling per warehouse behind adapter.dispatch, so the models
  run unchanged on DuckDB and PostgreSQL.
#}

{# The invoice time of a dump: ISO text ('2011-05-09 08:26:00', from the Excel dumps' date
   cells) or the CSV exporter's US format ('5/12/2011 9:09'), as a timestamp without zone
   (the retailer's local UK time, as in the source). #}
{% macro invoice_timestamp(column) %}
  {{ return(adapter.dispatch('invoice_timestamp')(column)) }}
{% endmacro %}

{# PostgreSQL's to_timestamp() reads the text in the session's time zone, which shifts times
   that fall in a daylight-saving gap there; make_timestamp() takes the wall clock as it is. #}
{% macro default__invoice_timestamp(column) %}
  {%- set day = "split_part(trim(" ~ column ~ "), ' ', 1)" -%}
  {%- set clock = "split_part(trim(" ~ column ~ "), ' ', 2)" -%}
  case
    when {{ column }} like '%/%' then make_timestamp(
      cast(split_part({{ day }}, '/', 3) as integer),
      cast(split_part({{ day }}, '/', 1) as integer),
      cast(split_part({{ day }}, '/', 2) as integer),
      cast(split_part({{ clock }}, ':', 1) as integer),
      cast(split_part({{ clock }}, ':', 2) as integer),
      0
    )
    else cast(trim({{ column }}) as timestamp)
  end
{% endmacro %}

{% macro duckdb__invoice_timestamp(column) %}
  case
    when {{ column }} like '%/%' then strptime(trim({{ column }}), '%m/%d/%Y %H:%M')
    else cast(trim({{ column }}) as timestamp)
  end
{% endmacro %}
