-- One row per version of a payment: a payment marked paid later shows as a second row
-- (see fact_sales_order and README.md, history).
{{ config(
    unique_key=['payment_id', 'last_updated_date', 'last_updated_time'],
    full_refresh=rebuild_facts(),
) }}

with versions as (
    {{ new_versions(source('raw', 'payment'), 'payment_id') }}
)

select
    cast({{ next_record_id('payment_record_id', 'last_updated, payment_id') }} as bigint) as payment_record_id,
    cast(payment_id as integer) as payment_id,
    {{ date_of('created_at') }} as created_date,
    {{ time_of('created_at') }} as created_time,
    {{ date_of('last_updated') }} as last_updated_date,
    {{ time_of('last_updated') }} as last_updated_time,
    cast(transaction_id as integer) as transaction_id,
    cast(counterparty_id as integer) as counterparty_id,
    cast(payment_amount as numeric(14, 2)) as payment_amount,
    cast(currency_id as integer) as currency_id,
    cast(payment_type_id as integer) as payment_type_id,
    paid,
    {{ text_to_date('payment_date') }} as payment_date
from versions
