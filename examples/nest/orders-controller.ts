// An application's own controller on the module: the request's principal and correlation id reach the bus through
// ChronicleRequest, and a refusal is answered by ChronicleExceptionFilter with chronicle-es/http's problem body.
import { Controller, Get, Inject, Param, Query } from '@nestjs/common';
import { ChronicleRequest } from 'chronicle-es/nest';

// #region nest-controller
@Controller('orders')
export class OrdersController {
  constructor(@Inject(ChronicleRequest) private readonly chronicle: ChronicleRequest) {}

  /** GET /orders/:orderId?after=<position>: the order once the read side has passed `after`. */
  @Get(':orderId')
  status(@Param('orderId') orderId: string, @Query('after') after?: string) {
    const minPosition = after === undefined ? undefined : Number(after);
    return this.chronicle.run('GetOrderStatus', { orderId }, { minPosition, waitMs: 5000 });
  }
}
// #endregion nest-controller
