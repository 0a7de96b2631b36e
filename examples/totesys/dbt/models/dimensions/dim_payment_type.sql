with payment_type as (
    {{ shopflow.latest_versions(source('raw', 'payment_type'), 'payment_type_id', 'last_updated') }}
)

select
    cast(payment_type_id as integer) as payment_type_id,
    payment_type_name
from payment_type
