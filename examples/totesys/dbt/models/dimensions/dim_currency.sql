-- One row per currency, its latest values, with the currency's name from the currency_names seed
-- (the source has only ISO codes).
with currency as (
    {{ shopflow.latest_versions(source('raw', 'currency'), 'currency_id', 'last_updated') }}
)

select
    cast(currency.currency_id as integer) as currency_id,
    cast(currency.currency_code as varchar(3)) as currency_code,
    names.currency_name
from currency
left join {{ ref('currency_names') }} as names
    on names.currency_code = upper(currency.currency_code)
