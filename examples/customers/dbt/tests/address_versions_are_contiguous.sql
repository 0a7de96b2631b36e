-- Type-2 history: a customer's address versions follow one another without gap or overlap
-- (each closed version ends when the next begins), and a version never ends before it starts.
with versions as (
    select
        customer_id,
        valid_from,
        valid_to,
        lead(valid_from) over (partition by customer_id order by valid_from) as next_valid_from
    from {{ ref('dim_customer_addresses') }}
)

select *
from versions
where (valid_to is not null and valid_to <= valid_from)
    or (next_valid_from is null and valid_to is not null)
    or (next_valid_from is not null and (valid_to is null or valid_to <> next_valid_from))
