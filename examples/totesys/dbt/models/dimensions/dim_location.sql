-- Every address is a location: delivery locations of orders and legal addresses of counterparties.
with address as (
    {{ shopflow.latest_versions(source('raw', 'address'), 'address_id', 'last_updated') }}
)

select
    cast(address_id as integer) as location_id,
    address_line_1,
    address_line_2,
    district,
    city,
    postal_code,
    country,
    phone
from address
