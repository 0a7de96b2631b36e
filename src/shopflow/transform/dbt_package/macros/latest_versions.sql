{#- The newest version of each `key` in `relation` by `cursor`: a raw table that keeps one row per
    key (merge) or every version (append) gives the same rows. Ties on `cursor` go to the row
    loaded last. `key` is a column or a list of columns. In an incremental model, only the keys
    whose version is newer than the model's (`this`) are selected, whatever order the versions
    arrived in; a full build takes every key. The rows carry `_sf_rank` (always 1). -#}
{% macro latest_versions(relation, key='id', cursor='updated_at') %}
    {%- set keys = [key] if key is string else key -%}
    select *
    from (
        select
            src.*,
            row_number() over (
                partition by {% for k in keys %}src.{{ k }}{{ ", " if not loop.last }}{% endfor %}
                order by src.{{ cursor }} desc nulls last, src._sf_loaded_at desc nulls last,
                    src._sf_batch desc nulls last
            ) as _sf_rank
        from {{ relation }} as src
        {% if is_incremental() %}
            left join {{ this }} as current_row
                on {% for k in keys %}current_row.{{ k }} = src.{{ k }}{{ " and " if not loop.last }}{% endfor %}
            where current_row.{{ keys[0] }} is null
                or src.{{ cursor }} > current_row.{{ cursor }}
        {% endif %}
    ) as ranked
    where _sf_rank = 1
{% endmacro %}
