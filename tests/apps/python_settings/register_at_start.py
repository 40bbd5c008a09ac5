
import signal, sys, types
def startup_handler(signum, frame):
    pass
try:
    signal.signal(signal.SIGALRM, startup_handler)
    outcome = 'ok'
except BaseException as e:
    outcome = '%s:%s' % (type(e).__name__, e)
sys.modules['startup_signal'] = types.SimpleNamespace(outcome=outcome)
