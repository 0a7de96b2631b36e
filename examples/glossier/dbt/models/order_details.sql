-- One row per line item of a real order.
select
    line_item.id as line_item_id,
    line_item.order_id,
    line_item.product_id,
    line_item.variant_id,
    line_item.quantity
from {{ source('raw', 'orders__line_items') }} as line_item
join {{ ref('orders_table') }} as orders
    on orders.transaction_id = line_item.order_id
