"""The Streamlit explorer (explorer/, pages/): AppTest page runs, a real server, a real browser, the job queue."""
