-- One row per customer with their current attributes, plus the unknown member (-1) that
-- transactions point at when their customer is missing or not in the CRM.
select
    customer_id,
    first_name,
    last_name,
    full_name,
    email,
    phone,
    address,
    city,
    postcode,
    country,
    country_code,
    signup_date,
    updated_at,
    false as is_unknown_member
from {{ ref('stg_customers') }}

union all

select
    cast(-1 as bigint) as customer_id,
    cast(null as varchar(64)) as first_name,
    cast(null as varchar(64)) as last_name,
    'Unknown customer' as full_name,
    cast(null as varchar(256)) as email,
    cast(null as varchar(64)) as phone,
    cast(null as varchar(256)) as address,
    'Unknown' as city,
    cast(null as varchar(16)) as postcode,
    'Unknown' as country,
    'XX' as country_code,
    cast(null as date) as signup_date,
    cast(null as timestamp) as updated_at,
    true as is_unknown_member
