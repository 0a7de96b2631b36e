{#
  Customers' addresses as a type-2 slowly changing dimension. Each `dbt build` compares the
  cleaned address of every customer with the current row here: a change closes that row
  (dbt_valid_to = the customer's updated_at) and opens a new one from the same moment.
  Only the address columns count, and only after cleaning: a new phone number or 'U.K.'
  respelt 'United Kingdom' is not a move.
#}
{% snapshot customer_addresses %}
{{
    config(
        unique_key='customer_id',
        strategy='check',
        check_cols=['address', 'city', 'postcode', 'country'],
        updated_at='updated_at',
    )
}}
select customer_id, address, city, postcode, country, updated_at
from {{ ref('stg_customers') }}
{% endsnapshot %}
