-- Nothing is dropped: every raw transaction is either in customer_transactions or in
-- transactions_quarantine, never both.
with raw_ids as (
    select trim(transaction_id) as transaction_id from {{ source('raw', 'transactions') }}
),

modelled as (
    select transaction_id from {{ ref('customer_transactions') }}
    union all
    select transaction_id from {{ ref('transactions_quarantine') }}
)

select raw_ids.transaction_id, count(modelled.transaction_id) as copies
from raw_ids
left join modelled on modelled.transaction_id = raw_ids.transaction_id
group by raw_ids.transaction_id
having count(modelled.transaction_id) <> 1
