-- One row per loaded transaction, cleaned and typed, with the reason it cannot be used
-- (quarantine_reason) or NULL. The rules are in staging.yml.
with source as (
    select * from {{ source('raw', 'transactions') }}
),

cleaned as (
    select
        trim(transaction_id) as transaction_id,
        {{ clean_text('customer_id') }} as source_customer_id,
        {{ clean_text('transaction_date') }} as transaction_date_as_sent,
        {{ clean_text('amount') }} as amount_as_sent,
        upper({{ clean_text('currency') }}) as currency,
        lower({{ clean_text('product_category') }}) as product_category,
        lower({{ clean_text('payment_method') }}) as payment_method,
        lower({{ clean_text('status') }}) as status,
        _sf_file as source_file
    from source
),

typed as (
    select
        transaction_id,
        source_customer_id,
        case
            when {{ full_match('source_customer_id', '[0-9]{1,18}') }} then cast(source_customer_id as bigint)
        end as customer_id,
        transaction_date_as_sent,
        {{ parse_timestamp('transaction_date_as_sent') }} as transaction_at,
        amount_as_sent,
        {{ parse_amount('amount_as_sent') }} as amount,
        coalesce(currency, 'GBP') as currency,
        coalesce(product_category, 'uncategorised') as product_category,
        case
            when payment_method in ('card', 'credit card', 'debit card') then 'card'
            when payment_method in ('paypal', 'cash') then payment_method
            when payment_method in ('bank transfer', 'bank_transfer') then 'bank_transfer'
            else 'unknown'
        end as payment_method,
        case when status in ('completed', 'pending', 'refunded') then status else 'unknown' end as status,
        source_file
    from cleaned
)

select
    *,
    case
        when transaction_date_as_sent is null then 'transaction_date is missing'
        when transaction_at is null then 'transaction_date is not a timestamp: ' || transaction_date_as_sent
        when amount_as_sent is null then 'amount is missing'
        when amount is null then 'amount is not a number with at most 2 decimals: ' || amount_as_sent
    end as quarantine_reason
from typed
