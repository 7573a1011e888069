"""Other codes run as baselines beside this project's, into its run layout (engine/record.py):
the authors' paper-era code (official.py, scripts/official_apl.py is its command line)."""
