-- Transactions that cannot be used, with why and the values as sent: nothing is dropped
-- silently. (Records without a transaction_id never reach the warehouse tables: shopflow puts
-- them in raw._quarantine.)
select
    transaction_id,
    quarantine_reason,
    source_customer_id,
    transaction_date_as_sent,
    amount_as_sent,
    source_file
from {{ ref('stg_transactions') }}
where quarantine_reason is not null
