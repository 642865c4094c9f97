"""sla's domain: the clock of each deadline of a case (``clock``) and how a deadline is
planned on the working-day calendar under the deadline policy (``planning``). Pure: no I/O
(the calendar and the policy are read by ``adapters``) and no clock (times are passed in).
"""
