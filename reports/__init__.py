"""Reading runs back into the paper's tables, the side-by-side comparison with the authors'
code, and figures: a library over engine/record.py (torch-free), one job per module;
scripts/tables.py and scripts/compare_official.py are its command lines."""
