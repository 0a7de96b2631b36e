{#- The newest version of each `key` in `relation` by `cursor`, as rows to merge into the model
    being built (`this`). A full build takes every key; an incremental one only keys whose version
    is newer than the model's, whatever order the versions arrived in. Ties on `cursor` go to
    the row loaded last. Works on raw tables that keep one row per key (merge) or every
    version (append). -#}
{% macro latest_versions(relation, key='id', cursor='updated_at') %}
    select *
    from (
        select
            src.*,
            row_number() over (
                partition by src.{{ key }}
                order by src.{{ cursor }} desc nulls last, src._sf_loaded_at desc nulls last,
                    src._sf_batch desc nulls last
            ) as _sf_rank
        from {{ relation }} as src
        {% if is_incremental() %}
            left join {{ this }} as current_row
                on current_row.{{ key }} = src.{{ key }}
            where current_row.{{ key }} is null
                or src.{{ cursor }} > current_row.{{ cursor }}
        {% endif %}
    ) as ranked
    where _sf_rank = 1
{% endmacro %}
