-- One row per known customer. Lines without a CustomerID (guest checkouts) have no row here:
-- fact_invoice_lines.customer_id is NULL for them. The country is the one on the customer's
-- latest invoice line; 'Unspecified' in the source becomes 'Unknown'.
with lines as (
    select * from {{ ref('stg_invoice_lines') }}
    where customer_id is not null
),

latest_country as (
    select customer_id, country
    from (
        select
            customer_id,
            country,
            row_number() over (
                partition by customer_id order by invoice_at desc, invoice_no desc, country
            ) as recency
        from lines
    ) as ranked
    where recency = 1
),

stats as (
    select
        customer_id,
        count(distinct case when not is_cancellation then invoice_no end) as invoices,
        count(distinct case when is_cancellation then invoice_no end) as cancelled_invoices,
        sum(line_total) as net_revenue,
        min(invoice_at) as first_invoice_at,
        max(invoice_at) as last_invoice_at
    from lines
    group by customer_id
)

select
    stats.customer_id,
    latest_country.country,
    stats.invoices,
    stats.cancelled_invoices,
    stats.net_revenue,
    stats.first_invoice_at,
    stats.last_invoice_at
from stats
inner join latest_country on latest_country.customer_id = stats.customer_id
