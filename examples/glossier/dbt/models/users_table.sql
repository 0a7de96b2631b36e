-- One row per user: how many orders, the first and the last, and the contact details of the last.
with ranked as (
    select
        *,
        count(*) over (partition by user_id) as number_of_orders,
        row_number() over (partition by user_id order by created_at, transaction_id) as nth_first,
        row_number() over (partition by user_id order by created_at desc, transaction_id desc) as nth_last
    from {{ ref('orders_table') }}
    where user_id is not null
)

select
    first_order.user_id,
    first_order.number_of_orders,
    first_order.created_at as first_order_at,
    first_order.order_name as first_order_name,
    last_order.created_at as last_order_at,
    last_order.order_name as last_order_name,
    last_order.email,
    last_order.phone,
    last_order.location_id,
    last_order.buyer_accepts_marketing
from ranked as first_order
join ranked as last_order
    on last_order.user_id = first_order.user_id and last_order.nth_last = 1
where first_order.nth_first = 1
