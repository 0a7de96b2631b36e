-- The daily totals add up to the lines they summarise, day by day.
with lines as (
    select invoice_date, count(*) as invoice_lines, sum(line_total) as net_revenue
    from {{ ref('fact_invoice_lines') }}
    group by invoice_date
)

select lines.invoice_date
from lines
full outer join {{ ref('daily_revenue') }} as daily on daily.invoice_date = lines.invoice_date
where daily.invoice_date is null
    or lines.invoice_date is null
    or daily.invoice_lines <> lines.invoice_lines
    or daily.net_revenue <> lines.net_revenue
    or daily.gross_revenue + daily.cancelled_revenue <> daily.net_revenue
