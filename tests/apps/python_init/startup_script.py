
import os, sys, time, types
marker = types.ModuleType('startup_marker')
marker.pid = os.getpid()
marker.loaded_at = time.time()
sys.modules['startup_marker'] = marker
