-- A calendar covering every date the facts refer to, in whole years.
with fact_dates as (
    select created_date as d from {{ ref('fact_sales_order') }}
    union all select last_updated_date from {{ ref('fact_sales_order') }}
    union all select agreed_payment_date from {{ ref('fact_sales_order') }}
    union all select agreed_delivery_date from {{ ref('fact_sales_order') }}
    union all select created_date from {{ ref('fact_purchase_order') }}
    union all select last_updated_date from {{ ref('fact_purchase_order') }}
    union all select agreed_delivery_date from {{ ref('fact_purchase_order') }}
    union all select agreed_payment_date from {{ ref('fact_purchase_order') }}
    union all select created_date from {{ ref('fact_payment') }}
    union all select last_updated_date from {{ ref('fact_payment') }}
    union all select payment_date from {{ ref('fact_payment') }}
),

bounds as (
    select
        cast(extract(year from coalesce(min(d), current_date)) as integer) as first_year,
        cast(extract(year from coalesce(max(d), current_date)) as integer) as last_year
    from fact_dates
),

days as (
    {{ date_series("(select make_date(first_year, 1, 1) from bounds)", "(select make_date(last_year, 12, 31) from bounds)") }}
)

select
    date_day as date_id,
    cast(extract(year from date_day) as integer) as year,
    cast(extract(month from date_day) as integer) as month,
    cast(extract(day from date_day) as integer) as day,
    {{ iso_day_of_week('date_day') }} as day_of_week,
    {{ day_name('date_day') }} as day_name,
    {{ month_name('date_day') }} as month_name,
    cast(extract(quarter from date_day) as integer) as quarter
from days
