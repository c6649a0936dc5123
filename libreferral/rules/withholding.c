/* withholding.c — see withholding.h. */
#include "withholding.h"

#include "decimal.h"

void withholding_of(const struct plan_withholding *w, const mpq_t payable, mpq_t withheld)
{
	mpq_set_ui(withheld, 0, 1);
	if (!w || mpq_sgn(payable) <= 0)
		return;
	mpq_t base;
	mpq_init(base);
	if (mpq_cmp(payable, w->threshold) <= 0) {
		mpq_sub(base, payable, w->fixed_deduction);
	} else {
		mpq_set_ui(base, 1, 1);
		mpq_sub(base, base, w->rate_deduction);
		mpq_mul(base, base, payable);
	}
	if (mpq_sgn(base) > 0) {
		const struct plan_bracket *b = &w->brackets[w->nbrackets - 1];
		for (size_t i = 0; i < w->nbrackets; i++)
			if (!w->brackets[i].bounded || mpq_cmp(w->brackets[i].up_to, base) >= 0) {
				b = &w->brackets[i];
				break;
			}
		mpq_mul(withheld, base, b->rate);
		mpq_sub(withheld, withheld, b->quick_deduction);
		if (mpq_sgn(withheld) > 0)
			dec_round_fen(withheld, withheld, DEC_ROUND_HALF_UP);
		else
			mpq_set_ui(withheld, 0, 1);
	}
	mpq_clear(base);
}
