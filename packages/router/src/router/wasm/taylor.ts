/** 1/k! for k = 0..degree: the Taylor coefficients of exp, which both softmax kernels evaluate by Horner's rule. */
export function inverseFactorials(degree: number): number[] {
  return Array.from({ length: degree + 1 }, (_, k) => {
    let f = 1;
    for (let i = 2; i <= k; i++) f *= i;
    return 1 / f;
  });
}
