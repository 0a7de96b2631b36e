-- Every streamed line is counted in its day, and the day's parts add up to its net.
select r.invoice_date
from {{ ref('revenue_by_day') }} as r
left join (
    select cast(cast(trim(invoice_date) as timestamp) as date) as invoice_date, count(*) as lines
    from {{ source('raw', 'invoice_lines') }}
    group by 1
) as l on l.invoice_date = r.invoice_date
where l.lines is null or l.lines <> r.invoice_lines or r.gross_revenue + r.cancelled_revenue <> r.net_revenue
