-- One row per usable transaction with its customer and the customer's address at the time
-- of the transaction. Transactions that cannot be used are in transactions_quarantine.
-- The rule for every missing value is in marts.yml.
with transactions as (
    select * from {{ ref('stg_transactions') }}
    where quarantine_reason is null
),

customers as (
    select * from {{ ref('dim_customers') }}
    where not is_unknown_member
),

addresses as (
    select * from {{ ref('dim_customer_addresses') }}
)

select
    transactions.transaction_id,
    transactions.transaction_at,
    cast(transactions.transaction_at as date) as transaction_date,
    transactions.amount,
    transactions.currency,
    transactions.product_category,
    transactions.payment_method,
    transactions.status,
    coalesce(customers.customer_id, -1) as customer_id,
    transactions.source_customer_id,
    coalesce(customers.full_name, 'Unknown customer') as customer_name,
    customers.email,
    addresses.address,
    coalesce(addresses.city, 'Unknown') as city,
    addresses.postcode,
    coalesce(addresses.country, 'Unknown') as country,
    transactions.source_file
from transactions
left join customers on customers.customer_id = transactions.customer_id
-- The address in effect when the transaction happened; the first version also covers the
-- time before the CRM first recorded it.
left join addresses
    on addresses.customer_id = customers.customer_id
    and (addresses.version = 1 or transactions.transaction_at >= addresses.valid_from)
    and (addresses.valid_to is null or transactions.transaction_at < addresses.valid_to)
