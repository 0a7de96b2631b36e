with payment_type as (
    {{ latest_rows(source('raw', 'payment_type'), 'payment_type_id') }}
)

select
    cast(payment_type_id as integer) as payment_type_id,
    payment_type_name
from payment_type
