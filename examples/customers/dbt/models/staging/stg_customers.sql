-- One row per customer: the CRM export cleaned (trimmed, typed, email lowercased, country
-- spellings standardised through the country_aliases seed). The rules are in staging.yml.
with source as (
    select * from {{ source('raw', 'customers') }}
),

aliases as (
    select * from {{ ref('country_aliases') }}
),

cleaned as (
    select
        customer_id,
        {{ clean_text('first_name') }} as first_name,
        {{ clean_text('last_name') }} as last_name,
        lower({{ clean_text('email') }}) as email,
        {{ clean_text('phone') }} as phone,
        {{ clean_text('address') }} as address,
        {{ clean_text('city') }} as city,
        upper({{ clean_text('postcode') }}) as postcode,
        {{ clean_text('country') }} as country_as_sent,
        {{ parse_date(clean_text('signup_date')) }} as signup_date,
        updated_at
    from source
)

select
    cleaned.customer_id,
    cleaned.first_name,
    cleaned.last_name,
    coalesce(
        cleaned.first_name || ' ' || cleaned.last_name, cleaned.first_name, cleaned.last_name, 'Unknown'
    ) as full_name,
    case when cleaned.email like '%_@_%._%' and cleaned.email not like '% %' then cleaned.email end as email,
    cleaned.phone,
    cleaned.address,
    coalesce(cleaned.city, 'Unknown') as city,
    cleaned.postcode,
    coalesce(aliases.country_name, 'Unknown') as country,
    coalesce(aliases.country_code, 'XX') as country_code,
    cleaned.country_as_sent,
    cleaned.signup_date,
    cleaned.updated_at
from cleaned
left join aliases on aliases.alias = lower(cleaned.country_as_sent)
