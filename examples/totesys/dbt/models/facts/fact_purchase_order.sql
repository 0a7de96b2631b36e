-- One row per version of a purchase order (see fact_sales_order and README.md, history).
{{ config(
    unique_key=['purchase_order_id', 'last_updated_date', 'last_updated_time'],
    full_refresh=rebuild_facts(),
) }}

with versions as (
    {{ new_versions(source('raw', 'purchase_order'), 'purchase_order_id') }}
)

select
    cast({{ next_record_id('purchase_record_id', 'last_updated, purchase_order_id') }} as bigint)
        as purchase_record_id,
    cast(purchase_order_id as integer) as purchase_order_id,
    {{ date_of('created_at') }} as created_date,
    {{ time_of('created_at') }} as created_time,
    {{ date_of('last_updated') }} as last_updated_date,
    {{ time_of('last_updated') }} as last_updated_time,
    cast(staff_id as integer) as staff_id,
    cast(counterparty_id as integer) as counterparty_id,
    item_code,
    cast(item_quantity as integer) as item_quantity,
    cast(item_unit_price as numeric(10, 2)) as item_unit_price,
    cast(currency_id as integer) as currency_id,
    {{ text_to_date('agreed_delivery_date') }} as agreed_delivery_date,
    {{ text_to_date('agreed_payment_date') }} as agreed_payment_date,
    cast(agreed_delivery_location_id as integer) as agreed_delivery_location_id
from versions
