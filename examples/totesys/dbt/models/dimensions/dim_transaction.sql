with transactions as (
    {{ shopflow.latest_versions(source('raw', 'transaction'), 'transaction_id', 'last_updated') }}
)

select
    cast(transaction_id as integer) as transaction_id,
    transaction_type,
    cast(sales_order_id as integer) as sales_order_id,
    cast(purchase_order_id as integer) as purchase_order_id
from transactions
