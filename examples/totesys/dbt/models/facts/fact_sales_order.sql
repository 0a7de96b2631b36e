-- One row per version of a sales order: a new last_updated in the source adds a row with its
-- own sales_record_id; rows already recorded are never added again (see README.md, history).
{{ config(
    unique_key=['sales_order_id', 'last_updated_date', 'last_updated_time'],
    full_refresh=rebuild_facts(),
) }}

with versions as (
    {{ new_versions(source('raw', 'sales_order'), 'sales_order_id') }}
)

select
    cast({{ next_record_id('sales_record_id', 'last_updated, sales_order_id') }} as bigint) as sales_record_id,
    cast(sales_order_id as integer) as sales_order_id,
    {{ date_of('created_at') }} as created_date,
    {{ time_of('created_at') }} as created_time,
    {{ date_of('last_updated') }} as last_updated_date,
    {{ time_of('last_updated') }} as last_updated_time,
    cast(staff_id as integer) as sales_staff_id,
    cast(counterparty_id as integer) as counterparty_id,
    cast(units_sold as integer) as units_sold,
    cast(unit_price as numeric(10, 2)) as unit_price,
    cast(currency_id as integer) as currency_id,
    cast(design_id as integer) as design_id,
    {{ text_to_date('agreed_payment_date') }} as agreed_payment_date,
    {{ text_to_date('agreed_delivery_date') }} as agreed_delivery_date,
    cast(agreed_delivery_location_id as integer) as agreed_delivery_location_id
from versions
