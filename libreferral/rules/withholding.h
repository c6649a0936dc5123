/*
 * withholding.h — the income tax withheld from a payout (docs/formats.md,
 * "Withholding"): each month's payable is one payment of 劳务报酬.
 */
#ifndef REFERRAL_WITHHOLDING_H
#define REFERRAL_WITHHOLDING_H

#include <gmp.h>

#include "plan.h"

/* The tax withheld from `payable` under `w` (NULL: none), exact to the fen:
 * base = payable - fixed_deduction up to the threshold, else payable x
 * (1 - rate_deduction); tax = base x rate - quick_deduction with the first
 * bracket whose up_to is null or at least base; withheld = tax rounded half
 * up to the fen, or 0 when base or tax is not above 0. `withheld` must not
 * alias `payable`. */
void withholding_of(const struct plan_withholding *w, const mpq_t payable, mpq_t withheld);

#endif
