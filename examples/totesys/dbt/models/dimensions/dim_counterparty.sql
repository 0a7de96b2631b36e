-- One row per counterparty, with its legal address and phone number.
with counterparty as (
    {{ shopflow.latest_versions(source('raw', 'counterparty'), 'counterparty_id', 'last_updated') }}
),

address as (
    {{ shopflow.latest_versions(source('raw', 'address'), 'address_id', 'last_updated') }}
)

select
    cast(counterparty.counterparty_id as integer) as counterparty_id,
    counterparty.counterparty_legal_name,
    address.address_line_1 as counterparty_legal_address_line_1,
    address.address_line_2 as counterparty_legal_address_line_2,
    address.district as counterparty_legal_district,
    address.city as counterparty_legal_city,
    address.postal_code as counterparty_legal_postal_code,
    address.country as counterparty_legal_country,
    address.phone as counterparty_legal_phone_number
from counterparty
left join address
    on address.address_id = counterparty.legal_address_id
