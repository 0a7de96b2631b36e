"""`shopflow demo`: the example pipelines run end to end on generated data, round after round.

`runner` runs the demo, `pipelines` says what data each example gets per round, `config_file`
writes each pipeline's file, `embedded_pg` runs the PostgreSQL the database examples read,
`warehouse_view` and `results` describe what each run left.
"""

from shopflow.demo.showcase.runner import DemoProgress, run_demo

__all__ = ["DemoProgress", "run_demo"]
