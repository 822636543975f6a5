"""Codes at the real time, for the pg suite's tests: the database reads its
own clock, so a test cannot fake it and must take codes of the moment,
with oathtool as the independent reference."""
import time

from mfatest import oathtool


def now_utc(offset=0):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() + offset))


def fresh_code(secret, offset=0, left=3):
    """The code at now + offset, taken with at least `left` seconds of its
    step to go (else in the next step), so that it stays valid while the
    login runs rather than racing the step's end."""
    if time.time() % 30 > 30 - left:
        time.sleep(30 - time.time() % 30 + 0.2)
    return oathtool(secret, now_utc(offset))


def next_step_code(secret):
    """A code of the step after the current one (a step once used is spent)."""
    time.sleep(30 - time.time() % 30 + 0.2)
    return oathtool(secret, now_utc())


def wrong_code(secret):
    """A code that matches no step the server's window could accept."""
    near = {oathtool(secret, now_utc(30 * k)) for k in range(-2, 3)}
    return next(c for c in ("000000", "111111", "222222", "333333", "444444", "555555")
                if c not in near)
