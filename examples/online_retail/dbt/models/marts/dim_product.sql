-- One row per stock code. The description is the latest one seen (codes get renamed), and
-- product_type tells goods from postage, fees and bookkeeping lines.
with lines as (
    select * from {{ ref('stg_invoice_lines') }}
),

latest_description as (
    select stock_code, description
    from (
        select
            stock_code,
            description,
            row_number() over (
                partition by stock_code order by invoice_at desc, description
            ) as recency
        from lines
        where description is not null
    ) as ranked
    where recency = 1
),

stats as (
    select
        stock_code,
        count(*) as invoice_lines,
        sum(case when is_cancellation then 0 else quantity end) as quantity_sold,
        min(invoice_at) as first_invoice_at,
        max(invoice_at) as last_invoice_at
    from lines
    group by stock_code
)

select
    stats.stock_code,
    coalesce(latest_description.description, 'Unknown') as description,
    case
        when stats.stock_code in ('POST', 'DOT', 'C2') then 'postage'
        when stats.stock_code in ('BANK CHARGES', 'AMAZONFEE', 'CRUK') then 'fee'
        when stats.stock_code = 'D' then 'discount'
        when stats.stock_code in ('M', 'm', 'S', 'B') then 'adjustment'
        when lower(stats.stock_code) like 'gift%' then 'gift_voucher'
        else 'merchandise'
    end as product_type,
    stats.invoice_lines,
    stats.quantity_sold,
    stats.first_invoice_at,
    stats.last_invoice_at
from stats
left join latest_description on latest_description.stock_code = stats.stock_code
