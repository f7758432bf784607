"""RQ jobs for flows."""
from alerting.flows import engine
from workers import job


@job
def run_flow(run_id: int) -> str:
    """Run one FlowRun (a no-op if it is not pending: another worker has it or it already ran)."""
    return engine.run_flow(run_id)
