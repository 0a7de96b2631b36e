-- The latest version of each user, by updated_at, with name, email and address lowercased.
{{ config(unique_key='id') }}

with latest as (
    {{ shopflow.latest_versions(source('raw', 'users')) }}
)

select
    id,
    lower(name) as name,
    lower(email) as email,
    lower(address) as address,
    created_at,
    updated_at
from latest
