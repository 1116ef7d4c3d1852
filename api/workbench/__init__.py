"""The workbench (审验工作台) and the CE assessment form (继续教育考核表): server-rendered pages in Chinese."""
