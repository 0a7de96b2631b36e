{#- Row selection for the facts: the versions a fact has not yet recorded. Raw tables may hold
    one row per key (merge) or every version (append); the macros give the same answer either
    way. The dimensions take the latest version of each key with shopflow.latest_versions. -#}

{#- Every distinct version (`key`, `cursor`) of `relation` that the fact being built (`this`) does
    not hold yet. On a first run or a full refresh: every version in the raw table. -#}
{% macro new_versions(relation, key, cursor='last_updated') %}
    select *
    from (
        select
            src.*,
            row_number() over (
                partition by src.{{ key }}, src.{{ cursor }}
                order by src._sf_loaded_at desc nulls last, src._sf_batch desc nulls last
            ) as _sf_copy
        from {{ relation }} as src
    ) as versions
    where _sf_copy = 1
    {% if is_incremental() %}
        and not exists (
            select 1
            from {{ this }} as seen
            where seen.{{ key }} = versions.{{ key }}
                and seen.{{ cursor }}_date = {{ date_of('versions.' ~ cursor) }}
                and seen.{{ cursor }}_time = {{ time_of('versions.' ~ cursor) }}
        )
    {% endif %}
{% endmacro %}

{#- A surrogate record id for each new fact row: it continues after the largest id already in
    the fact, numbered in `order_by` order, so ids never change once given. -#}
{% macro next_record_id(id_column, order_by) %}
    {%- if is_incremental() -%}
        (select coalesce(max({{ id_column }}), 0) from {{ this }})
    {%- else -%}
        0
    {%- endif %} + row_number() over (order by {{ order_by }})
{% endmacro %}

{#- Whether `--full-refresh` may rebuild the facts from raw (true only when raw keeps every version:
    write_disposition append). Off by default, so a full refresh never drops history. Turn it on
    with `--vars '{rebuild_facts: true}'` or the environment variable TOTESYS_REBUILD_FACTS=true. -#}
{% macro rebuild_facts() %}
    {%- set value = var('rebuild_facts', env_var('TOTESYS_REBUILD_FACTS', 'false')) -%}
    {{ return((value | string | lower) in ['true', '1', 'yes']) }}
{% endmacro %}
