"""Nothing to make: 403_RNN_regressor.py generates its own inputs (sin) and targets (cos) window by window."""

if __name__ == "__main__":
    pass
