with design as (
    {{ shopflow.latest_versions(source('raw', 'design'), 'design_id', 'last_updated') }}
)

select
    cast(design_id as integer) as design_id,
    design_name,
    file_location,
    file_name
from design
