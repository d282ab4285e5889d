"""Coverage: a patient's insurance (payer, plan, member, primary or secondary, dates, benefit, site of care,
cost sharing, manufacturer copay assistance). The table is ``igflow.patients.models.Coverage``."""
