"""Synthetic loan applications (credit-scoring style): 8 numeric columns on their natural scales, label 1 = the
loan defaulted (about 35% of rows).

Columns: annual income (~1e4-3e5), age (21-70), loan amount (~1e3-5e4), debt-to-income ratio (~0.05-0.6),
credit utilization (~0.01-1), number of open accounts (1-15), months at current job (0-240) and recent
late payments (0-6). The default risk follows a logistic model of the standardized columns.

``standardize=False`` is what ``torch.tensor(df[FEATURES].values, dtype=torch.float32)`` gives;
``standardize=True`` applies a StandardScaler fitted on the training rows (and reused for validation).
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, TensorDataset

FEATURES = (
    "income",
    "age",
    "loan_amount",
    "debt_to_income",
    "credit_utilization",
    "open_accounts",
    "months_employed",
    "late_payments",
)


def make_applications(num_rows: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=g)

    income = torch.exp(10.9 + 0.6 * torch.randn(num_rows, generator=g)).clamp(1e4, 3e5)
    age = 21 + 49 * rand(num_rows)
    loan_amount = (income * (0.05 + 0.25 * rand(num_rows))).clamp(1e3, 5e4)
    debt_to_income = 0.05 + 0.55 * rand(num_rows) ** 1.5
    credit_utilization = rand(num_rows).clamp(0.01, 1.0)
    open_accounts = torch.randint(1, 16, (num_rows,), generator=g).float()
    months_employed = (rand(num_rows) * (age - 18) * 12).clamp(max=240).round()
    late_payments = torch.poisson(0.8 * torch.ones(num_rows), generator=g).clamp(max=6)
    x = torch.stack(
        [income, age, loan_amount, debt_to_income, credit_utilization, open_accounts, months_employed, late_payments],
        dim=1,
    )
    z = (x - x.mean(0)) / x.std(0)
    logit = -0.8 - 0.9 * z[:, 0] - 0.4 * z[:, 1] + 0.6 * z[:, 2] + 1.2 * z[:, 3] + 1.0 * z[:, 4] - 0.5 * z[:, 6]
    logit = logit + 1.1 * z[:, 7] + 0.8 * z[:, 3] * z[:, 4]
    y = (torch.rand(num_rows, generator=g) < torch.sigmoid(1.5 * logit)).long()
    return x, y


class StandardScaler:
    def fit(self, x: torch.Tensor) -> StandardScaler:
        self.mean_, self.scale_ = x.mean(0), x.std(0)
        return self

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean_) / self.scale_


def _splits(standardize: bool) -> tuple[TensorDataset, TensorDataset]:
    x_train, y_train = make_applications(3000, seed=0)
    x_val, y_val = make_applications(600, seed=1)
    if standardize:
        scaler = StandardScaler().fit(x_train)
        x_train, x_val = scaler.transform(x_train), scaler.transform(x_val)
    return TensorDataset(x_train, y_train), TensorDataset(x_val, y_val)


def train_loader(batch_size: int = 64, standardize: bool = True) -> DataLoader:
    return DataLoader(
        _splits(standardize)[0], batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0)
    )


def val_loader(batch_size: int = 200, standardize: bool = True) -> DataLoader:
    return DataLoader(_splits(standardize)[1], batch_size=batch_size)
