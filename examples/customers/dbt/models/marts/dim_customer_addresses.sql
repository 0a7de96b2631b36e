-- Every address a customer has had (type 2): one row per version, valid from valid_from
-- (inclusive) to valid_to (exclusive; NULL for the current one).
select
    dbt_scd_id as customer_address_key,
    customer_id,
    address,
    city,
    postcode,
    country,
    dbt_valid_from as valid_from,
    dbt_valid_to as valid_to,
    dbt_valid_to is null as is_current,
    row_number() over (partition by customer_id order by dbt_valid_from) as version
from {{ ref('customer_addresses') }}
